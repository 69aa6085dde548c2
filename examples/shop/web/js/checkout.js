define('shop/checkout0', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 0', config); });
    };
});
define('shop/checkout1', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 1', config); });
    };
});
define('shop/checkout2', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 2', config); });
    };
});
define('shop/checkout3', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 3', config); });
    };
});
define('shop/checkout4', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 4', config); });
    };
});
define('shop/checkout5', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 5', config); });
    };
});
define('shop/checkout6', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 6', config); });
    };
});
define('shop/checkout7', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 7', config); });
    };
});
define('shop/checkout8', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 8', config); });
    };
});
define('shop/checkout9', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 9', config); });
    };
});
define('shop/checkout10', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 10', config); });
    };
});
define('shop/checkout11', ['jquery'], function ($) {
    'use strict';
    return function (config, element) {
        $(element).on('click', function () { console.log('checkout 11', config); });
    };
});
