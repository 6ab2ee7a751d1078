/*
 * family.c — the customer pages family (see pages.h).
 */
#include "api/chat2pay/chat2pay.h"
#include "api/pages/pages.h"

const struct http_family pages_family = {
    .name = "pages",
    .render_error = c2p_render_error,
};
