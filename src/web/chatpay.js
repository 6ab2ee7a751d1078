/*
 * chatpay.js — optional enhancements of chatpay's customer pages, served at
 * /static/chatpay.js (Content-Security-Policy: script-src 'self').
 *
 * Nothing here is needed to pay: every page works with JavaScript off, and
 * the server checks everything again. The file holds no text: the pages
 * carry their texts, in the customer's language, in data attributes and
 * hidden elements.
 *
 *  - Payment link page: <p class="expiry" data-expires-in="SECONDS"
 *    data-numbering="latn|arab|..." data-expired-text="..."> shows the time
 *    left as a live clock in the page's digits (the server wrote it in
 *    words), and says so (to a screen reader too: a live region) and disables
 *    the Pay button when the time is up.
 *  - A form that takes the customer to the gateway's checkout
 *    (<form data-autosubmit>) is sent at once; without JavaScript the
 *    customer presses its button.
 *  - Sandbox gateway card form: the card number is grouped in fours as it
 *    is typed (Amex 4-6-5), digits typed in other scripts (Arabic-Indic)
 *    become ASCII digits, and a hint shows while the number's check digit
 *    (Luhn) is wrong: <input data-luhn-hint="ID"> and <p id="ID" hidden>.
 */
(function () {
    'use strict';

    var lang = document.documentElement.lang || 'en';

    /* numbers in the page's digits: data-numbering names the numbering system
     * the server used ("latn", "arab"), which the browser's own data for the
     * language may not default to */
    function formatter(numbering, opts) {
        try {
            var tag = /^[a-z0-9]{3,8}$/.test(numbering) ? lang + '-u-nu-' + numbering : lang;
            var nf = new Intl.NumberFormat(tag, opts);
            return function (n) { return nf.format(n); };
        } catch (e) {
            return function (n) { return (opts.minimumIntegerDigits && n < 10 ? '0' : '') + n; };
        }
    }

    /* 754 s → "12:34"; 4000 s → "1:06:40" */
    function clock(s, num, two) {
        var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
        return h > 0 ? num(h) + ':' + two(m) + ':' + two(sec) : two(m) + ':' + two(sec);
    }

    function countdown(p) {
        var left = parseInt(p.getAttribute('data-expires-in'), 10);
        var out = p.querySelector('.left');
        /* a day or more: the server's words are precise enough */
        if (!out || !(left > 0) || left >= 86400)
            return;
        var end = Date.now() + left * 1000;
        var nu = p.getAttribute('data-numbering') || '';
        var num = formatter(nu, { useGrouping: false });
        var two = formatter(nu, { useGrouping: false, minimumIntegerDigits: 2 });
        out.setAttribute('dir', 'ltr');
        /* the end is announced by a screen reader: an assertive live region,
         * in the page (and empty) before its text comes, as screen readers
         * need (not role=alert: the page's own alert is the notice of a
         * failed payment); the clock itself is not a live region, or each
         * second would be read */
        var alert = document.createElement('p');
        alert.className = 'vh';
        alert.setAttribute('aria-live', 'assertive');
        alert.setAttribute('aria-atomic', 'true');
        p.parentNode.insertBefore(alert, p.nextSibling);
        function tick() {
            var ms = end - Date.now();
            var s = Math.ceil(ms / 1000);
            if (s <= 0) {
                p.textContent = p.getAttribute('data-expired-text') || '';
                alert.textContent = p.textContent;
                p.className += ' over';
                var buttons = document.querySelectorAll('main form button[type=submit]');
                for (var i = 0; i < buttons.length; i++)
                    buttons[i].disabled = true;
                return;
            }
            out.textContent = clock(s, num, two);
            setTimeout(tick, (ms % 1000) + 20);
        }
        tick();
    }

    /* Arabic-Indic and Extended Arabic-Indic digits → ASCII */
    function ascii(v) {
        return v.replace(/[\u0660-\u0669\u06f0-\u06f9]/g, function (c) {
            var k = c.charCodeAt(0);
            return String.fromCharCode(48 + (k >= 0x06f0 ? k - 0x06f0 : k - 0x0660));
        });
    }

    function luhn(d) {
        var sum = 0, twice = false;
        for (var i = d.length - 1; i >= 0; i--) {
            var n = d.charCodeAt(i) - 48;
            if (twice && (n *= 2) > 9)
                n -= 9;
            sum += n;
            twice = !twice;
        }
        return sum % 10 === 0;
    }

    function group(d) {
        if (/^3[47]/.test(d))
            return [d.slice(0, 4), d.slice(4, 10), d.slice(10, 15)].filter(Boolean).join(' ');
        return d.replace(/(\d{4})(?=\d)/g, '$1 ');
    }

    function describedBy(input, id, on) {
        var ids = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter(function (x) {
            return x && x !== id;
        });
        if (on)
            ids.push(id);
        if (ids.length)
            input.setAttribute('aria-describedby', ids.join(' '));
        else
            input.removeAttribute('aria-describedby');
    }

    function cardNumber(input) {
        var hint = document.getElementById(input.getAttribute('data-luhn-hint'));
        function check(done) {
            var d = input.value.replace(/\D/g, '');
            var full = d.length >= 16 || (/^3[47]/.test(d) && d.length === 15);
            var bad = (full || (done && d.length >= 12)) && !luhn(d);
            if (hint && hint.hidden === bad) {
                hint.hidden = !bad;
                describedBy(input, hint.id, bad);
            }
        }
        input.addEventListener('input', function () {
            var v = ascii(input.value);
            var caret = input.selectionStart === null ? v.length : input.selectionStart;
            var before = v.slice(0, caret).replace(/\D/g, '').length;
            var g = group(v.replace(/\D/g, '').slice(0, 19));
            if (g !== input.value) {
                input.value = g;
                if (document.activeElement === input) {
                    var pos = 0;
                    for (var seen = 0; pos < g.length && seen < before; pos++)
                        if (g.charAt(pos) !== ' ')
                            seen++;
                    input.setSelectionRange(pos, pos);
                }
            }
            check(false);
        });
        input.addEventListener('blur', function () { check(true); });
    }

    function digitsOnly(input) {
        input.addEventListener('input', function () {
            var v = ascii(input.value);
            if (v !== input.value)
                input.value = v;
        });
    }

    function start() {
        var go = document.querySelector('form[data-autosubmit]');
        if (go)
            go.submit();
        var expiry = document.querySelector('.expiry[data-expires-in]');
        if (expiry)
            countdown(expiry);
        var number = document.querySelector('input[data-luhn-hint]');
        if (number)
            cardNumber(number);
        var others = document.querySelectorAll('input[inputmode=numeric]:not([data-luhn-hint])');
        for (var i = 0; i < others.length; i++)
            digitsOnly(others[i]);
    }

    if (document.readyState === 'loading')
        document.addEventListener('DOMContentLoaded', start);
    else
        start();
})();
