define('shop/module0', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 0', config); });
    };
});
define('shop/module1', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 1', config); });
    };
});
define('shop/module2', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 2', config); });
    };
});
define('shop/module3', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 3', config); });
    };
});
define('shop/module4', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 4', config); });
    };
});
define('shop/module5', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 5', config); });
    };
});
define('shop/module6', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 6', config); });
    };
});
define('shop/module7', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 7', config); });
    };
});
define('shop/module8', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 8', config); });
    };
});
define('shop/module9', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 9', config); });
    };
});
define('shop/module10', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 10', config); });
    };
});
define('shop/module11', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('module 11', config); });
    };
});
