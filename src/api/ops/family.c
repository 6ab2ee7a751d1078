/*
 * family.c — the operations family (see ops.h).
 */
#include "api/chat2pay/chat2pay.h"
#include "api/ops/ops.h"

const struct http_family ops_family = {
    .name = "ops",
    .render_error = c2p_render_error,
};
