/*
 * ops.h — the operations family: health and readiness, metrics, the API
 * document and the index. Public (metrics may need a token); errors in the
 * JSON shape of the API.
 */
#ifndef CHATPAY_API_OPS_OPS_H
#define CHATPAY_API_OPS_OPS_H

#include "http/http.h"

extern const struct http_family ops_family;

void api_livez(struct req *r);
void api_readyz(struct req *r);
void api_metrics(struct req *r);
void api_openapi(struct req *r);
void api_index(struct req *r);

#endif
