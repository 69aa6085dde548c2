<?php
declare(strict_types=1);

namespace Shop\Catalog\Model;

final class Product
{
    private function __construct(private readonly array $server)
    {
    }

    public static function bootstrap(array $server): self
    {
        return new self($server);
    }

    public function render(): string
    {
        $static = '/static/frontend/Shop/default';
        return "<!doctype html><html><head><link rel=\"stylesheet\" href=\"$static/styles.css\"></head>"
            . "<body><h1>Shop</h1><script src=\"$static/bundle.js\"></script></body></html>";
    }
}
