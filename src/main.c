/*
 * main.c — the chatpay command table.
 */
#include <stdio.h>

#include "revision.h"
#include <string.h>

#include "cmd/cmd.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "run the HTTP API, payment pages and background workers"},
    {"worker", cmd_worker, "run the background workers only (no HTTP)"},
    {"migrate", cmd_migrate, "apply database migrations and exit"},
    {"merchant", cmd_merchant, "create, list, show and update merchants"},
    {"apikey", cmd_apikey, "create, list and revoke API keys"},
    {"integrator", cmd_integrator, "add, list and update integrators (applications)"},
    {"provider", cmd_provider,
     "configure messaging providers (Clickatell, WhatsApp, Twilio) and payment gateways (Stripe, "
     "CyberSource)"},
    {"optout", cmd_optout, "list, add and remove numbers that opted out of messages"},
    {"whatsapp", cmd_whatsapp, "WhatsApp Pay business numbers and payment configurations"},
    {"marketplace", cmd_marketplace, "marketplace clients, product catalogue, MNO prefixes"},
    {"db", cmd_db, "copy a deployment to another database, back up SQLite, check a database"},
};

static void print_usage(FILE *f)
{
    fprintf(f, "usage: chatpay COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`chatpay COMMAND --help` describes a command. `chatpay --version` prints the "
               "version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("chatpay %s (%s)\n", CHATPAY_VERSION, CHATPAY_REVISION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "chatpay: unknown command \"%s\"\n\n", name);
    print_usage(stderr);
    return EXIT_USAGE;
}
