<?php
declare(strict_types=1);

require __DIR__ . '/../app/bootstrap.php';

$app = \Shop\Catalog\Model\Product::bootstrap($_SERVER);
echo $app->render();
