/*
 * hooks.h — the inbound webhooks family: what messaging providers post back
 * (delivery receipts, customers' replies) and what payment gateways post
 * (Stripe's webhooks, CyberSource's merchant POST), at
 *   /hooks/{providerId}/{token}[/{rest}]
 * The URL names the provider and carries its random token (43 base62
 * characters); the family checks both before anything else and answers an
 * unknown pair with 404. The provider's own signature, when its kind has
 * one, is then checked by its channel (channel_ops.inbound) or gateway
 * (gateway_ops.inbound).
 */
#ifndef CHATPAY_API_HOOKS_HOOKS_H
#define CHATPAY_API_HOOKS_HOOKS_H

#include "http/http.h"

extern const struct http_family hooks_family;

void api_hook(struct req *r);

/* A gateway's notice (gateway.c): the provider is a payment gateway. */
void api_gateway_hook(struct req *r);

#endif
