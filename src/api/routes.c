/*
 * routes.c — every endpoint chatpay serves, as data.
 */
#include "api/api.h"

#include "api/chat2pay/chat2pay.h"
#include "api/hooks/hooks.h"
#include "api/ops/ops.h"
#include "api/pages/pages.h"
#include "api/transact/transact.h"
#include "api/whatsapp/whatsapp.h"

const struct route api_routes[] = {
    /* Chat 2 Pay API v2 */
    {"GET", "/api/v2/config", api_config_get, &c2p_family, 0, 0},
    {"PUT", "/api/v2/integration", api_integration_put, &c2p_family, ROUTE_JSON_BODY, 0},
    {"POST", "/api/v2/chat-2-pay", api_chat2pay_create, &c2p_family,
     ROUTE_JSON_BODY | ROUTE_IDEMPOTENT, 0},
    {"GET", "/api/v2/chat-2-pay/transaction-status", api_chat2pay_status, &c2p_family, 0, 0},
    {"POST", "/api/v2/cancel/{paymentLinkRef}", api_cancel, &c2p_family, ROUTE_IDEMPOTENT, 0},
    {"POST", "/api/v2/payment/{paymentLinkRef}/capture", api_capture, &c2p_family, ROUTE_IDEMPOTENT,
     0},
    {"POST", "/api/v2/payment/{paymentLinkRef}/reverse", api_reverse, &c2p_family, ROUTE_IDEMPOTENT,
     0},
    {"POST", "/api/v2/payment/{paymentLinkRef}/refund", api_refund, &c2p_family, ROUTE_IDEMPOTENT,
     0},

    {"POST", "/api/v2/order-receipt", api_order_receipt, &c2p_receipt_family,
     ROUTE_JSON_BODY | ROUTE_IDEMPOTENT, 0},

    /* the delivery log of merchant callbacks (extension) */
    {"GET", "/api/v2/callbacks", api_callbacks_list, &c2p_family, 0, 0},
    {"POST", "/api/v2/callbacks/{callbackId}/replay", api_callback_replay, &c2p_family, 0, 0},

    /* sandbox tools (extension) */
    {"GET", "/api/v2/sandbox/messages", api_sandbox_messages, &c2p_family, 0, 0},

    /* Marketplace (docs/marketplace.md): Security Service, Transact, lookups */
    {"POST", "/token", api_mp_token, &mp_token_family, 0, 4096},
    {"POST", "/auth/token", api_mp_token, &mp_token_family, 0, 4096},
    {"POST", "/core-transact/4.0", api_mp_transact, &mp_family, ROUTE_JSON_BODY, 16384},
    {"POST", "/apiman-gateway/PaydServices/core-transact/4.0", api_mp_transact, &mp_family,
     ROUTE_JSON_BODY, 16384},
    {"GET", "/lookup-api/2.0", api_mp_lookup, &mp_family, 0, 0},
    {"GET", "/financial-terms/1.0", api_mp_financial_terms, &mp_family, 0, 0},
    {"GET", "/product-lookup/1.0", api_mp_products, &mp_family, 0, 0},
    {"GET", "/product-lookup/1.0/{productId}", api_mp_product, &mp_family, 0, 0},
    {"GET", "/in-flight-check/1.0", api_mp_in_flight, &mp_family, 0, 0},
    {"GET", "/mno-lookup/1.0", api_mp_mno, &mp_family, 0, 0},
    {"GET", "/token-lookup/1.0", api_mp_token_lookup, &mp_family, 0, 0},

    /* WhatsApp Pay (docs/whatsapp-pay.md): orders, Kaleyra's payment status, refunds */
    {"POST", "/v1/{sid}/messages", api_wa_messages, &wa_family, 0, 0},
    {"GET", "/v1/{sid}/wrapper/{phoneNumberId}/payments/{paymentConfigId}/{referenceId}",
     api_wa_payment, &wa_family, 0, 0},
    {"POST", "/v1/{sid}/wrapper/{phoneNumberId}/payments/{paymentConfigId}/{referenceId}/refunds",
     api_wa_refund, &wa_family, ROUTE_IDEMPOTENT, 4096},
    {"GET", "/wa/{token}", api_wa_page, &pages_family, 0, 0},
    {"POST", "/wa/{token}", api_wa_page_submit, &pages_family, 0, 4096},

    /* customer pages */
    {"GET", "/p/{token}", api_link_page, &pages_family, 0, 0},
    {"GET", "/p/{token}/pay", api_pay_page, &pages_family, 0, 0},
    {"POST", "/p/{token}/pay", api_pay, &pages_family, 0, 4096},
    {"GET", "/p/{token}/return", api_pay_return, &pages_family, 0, 0},
    {"POST", "/p/{token}/return", api_pay_return, &pages_family, 0, 16384},

    /* the sandbox gateway's hosted pages (a stand-in for a real gateway) */
    {"GET", "/sandbox-gateway/checkout/{ref}", api_sandbox_checkout, &pages_family, 0, 0},
    {"POST", "/sandbox-gateway/checkout/{ref}", api_sandbox_checkout_submit, &pages_family, 0,
     4096},
    {"GET", "/sandbox-gateway/3ds/{ref}", api_sandbox_3ds, &pages_family, 0, 0},
    {"POST", "/sandbox-gateway/3ds/{ref}", api_sandbox_3ds_submit, &pages_family, 0, 4096},
    {"GET", "/static/chatpay.css", api_static_css, &pages_family, 0, 0},
    {"GET", "/static/chatpay.js", api_static_js, &pages_family, 0, 0},
    {"GET", "/m/{merchantId}/logo", api_merchant_logo, &pages_family, 0, 0},

    /* what messaging providers post back (delivery receipts, replies) */
    {"GET", "/hooks/{providerId}/{token}", api_hook, &hooks_family, 0, 0},
    {"POST", "/hooks/{providerId}/{token}", api_hook, &hooks_family, ROUTE_OVERSIZE_DROPPED,
     256 * 1024},
    {"GET", "/hooks/{providerId}/{token}/{rest}", api_hook, &hooks_family, 0, 0},
    {"POST", "/hooks/{providerId}/{token}/{rest}", api_hook, &hooks_family, ROUTE_OVERSIZE_DROPPED,
     256 * 1024},

    /* operations */
    {"GET", "/livez", api_livez, &ops_family, ROUTE_HEALTH, 0},
    {"GET", "/readyz", api_readyz, &ops_family, ROUTE_HEALTH, 0},
    {"GET", "/metrics", api_metrics, &ops_family, ROUTE_ADMIN, 0},
    {"GET", "/openapi.json", api_openapi, &ops_family, 0, 0},
    {"GET", "/", api_index, &ops_family, 0, 0},
};

const size_t api_route_count = sizeof api_routes / sizeof api_routes[0];

const struct http_family *const api_fallback_family = &c2p_family;
