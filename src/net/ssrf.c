/*
 * ssrf.c — which addresses outbound calls may not reach (see net.h).
 *
 * The tables name the IPv4 and IPv6 ranges refused, each with the word used
 * in messages. IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64,
 * 6to4) are judged by the IPv4 address they carry, so that ::ffff:127.0.0.1
 * is refused like 127.0.0.1 while ::ffff:8.8.8.8 is not.
 */
#include "net/net.h"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

struct v4_range {
    uint32_t net; /* network address, host byte order */
    unsigned bits;
    const char *what;
};

static const struct v4_range v4_refused[] = {
    {0x00000000u, 8, "unspecified"},        /* 0.0.0.0/8: "this network" */
    {0x0a000000u, 8, "private"},            /* 10/8 */
    {0x64400000u, 10, "carrier-grade NAT"}, /* 100.64/10 */
    {0x7f000000u, 8, "loopback"},           /* 127/8 */
    {0xa9fe0000u, 16, "link-local"},        /* 169.254/16, cloud metadata */
    {0xac100000u, 12, "private"},           /* 172.16/12 */
    {0xc0000000u, 24, "reserved"},          /* 192.0.0/24: IETF protocol assignments */
    {0xc0000200u, 24, "documentation"},     /* 192.0.2/24: TEST-NET-1 */
    {0xc0a80000u, 16, "private"},           /* 192.168/16 */
    {0xc6120000u, 15, "benchmarking"},      /* 198.18/15 */
    {0xc6336400u, 24, "documentation"},     /* 198.51.100/24: TEST-NET-2 */
    {0xcb007100u, 24, "documentation"},     /* 203.0.113/24: TEST-NET-3 */
    {0xe0000000u, 4, "multicast"},          /* 224/4 */
    {0xf0000000u, 4, "reserved"},           /* 240/4, 255.255.255.255 included */
};

struct v6_range {
    uint8_t net[16];
    unsigned bits;
    const char *what; /* NULL: judge the IPv4 address embedded at v4_at */
    unsigned v4_at;   /* byte offset of the embedded IPv4 address */
};

static const struct v6_range v6_refused[] = {
    /* ::ffff:0:0/96, IPv4-mapped */
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, NULL, 12},
    /* 64:ff9b::/96, NAT64 well-known prefix */
    {{0, 0x64, 0xff, 0x9b}, 96, NULL, 12},
    /* 2002::/16, 6to4: the IPv4 address follows the prefix */
    {{0x20, 0x02}, 16, NULL, 2},
    /* ::/128 and ::1/128 fall in ::/96, the deprecated IPv4-compatible block */
    {{0}, 128, "unspecified", 0},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback", 0},
    {{0}, 96, "reserved", 0},
    /* 64:ff9b:1::/48, local-use NAT64 */
    {{0, 0x64, 0xff, 0x9b, 0, 0x01}, 48, "local-use NAT64", 0},
    /* 100::/64, discard-only */
    {{0x01, 0x00}, 64, "discard-only", 0},
    /* 2001:db8::/32 */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation", 0},
    /* fc00::/7, unique local (fd00:ec2::254 is a cloud metadata address) */
    {{0xfc}, 7, "unique local", 0},
    /* fe80::/10 */
    {{0xfe, 0x80}, 10, "link-local", 0},
    /* ff00::/8 */
    {{0xff}, 8, "multicast", 0},
};

static const char *v4_class(uint32_t a)
{
    for (size_t i = 0; i < sizeof v4_refused / sizeof v4_refused[0]; i++) {
        uint32_t mask = 0xffffffffu << (32 - v4_refused[i].bits);
        if ((a & mask) == v4_refused[i].net)
            return v4_refused[i].what;
    }
    return NULL;
}

/* Does a start with the first bits bits of net? */
static bool v6_prefix(const uint8_t *a, const uint8_t *net, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, net, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[whole] & mask) == (net[whole] & mask);
}

static uint32_t v4_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static const char *v6_class(const uint8_t a[16])
{
    for (size_t i = 0; i < sizeof v6_refused / sizeof v6_refused[0]; i++) {
        const struct v6_range *r = &v6_refused[i];
        if (!v6_prefix(a, r->net, r->bits))
            continue;
        return r->what ? r->what : v4_class(v4_at(a + r->v4_at));
    }
    return NULL;
}

const char *net_address_class(const struct sockaddr *sa)
{
    if (!sa)
        return "unknown";
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        return v4_class(ntohl(in.sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        return v6_class(in6.sin6_addr.s6_addr);
    }
    return "non-IP";
}

bool net_address_refused(const struct sockaddr *sa)
{
    return net_address_class(sa) != NULL;
}
