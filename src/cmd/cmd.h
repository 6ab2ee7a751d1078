/*
 * cmd.h — the command-line commands and what they share.
 *
 * Exit codes: 0 success, 1 runtime error (one clear line on stderr),
 * 2 usage error (message and usage on stderr). --help prints to stdout.
 */
#ifndef CHATPAY_CMD_CMD_H
#define CHATPAY_CMD_CMD_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "db/db.h"
#include "db/merchants.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

int cmd_serve(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_merchant(int argc, char **argv);
int cmd_apikey(int argc, char **argv);
int cmd_integrator(int argc, char **argv);
int cmd_provider(int argc, char **argv);
int cmd_optout(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_marketplace(int argc, char **argv);
int cmd_whatsapp(int argc, char **argv);

/* One option of a command: "--name VALUE" (value set) or the flag
 * "--name" (flag set). */
struct cmd_option {
    const char *name;
    const char **value;
    bool *flag;
};

/* Parse the options of command `name` (argv[0] is the command; a table
 * ending with {NULL}); --help prints the usage. Options and their values
 * may come in any order; other words are an error. Returns -1 to go on,
 * else the exit code to return (0 after --help, EXIT_USAGE). */
int cmd_parse_options(int argc, char **argv, const char *name, const char *usage,
                      const struct cmd_option *opts);

/* The running application of serve and worker: configuration, database,
 * and the provider registries (messaging, gateways). false after printing
 * when something could not be set up. */
struct app;
bool cmd_app_init(struct app *app, const struct config *cfg, struct db *db);
/* Stop provider calls in flight (before stopping the workers). */
void cmd_app_stopping(struct app *app);
void cmd_app_free(struct app *app);

/* Block SIGTERM and SIGINT in every thread to come (call before starting
 * any), so that only a sigwait() on *set receives them; ignore SIGPIPE. */
void cmd_block_stop_signals(sigset_t *set);

/* Report a usage error: "chatpay: <msg>" then the usage text, on stderr.
 * Returns EXIT_USAGE. */
int cmd_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Report a runtime error: one line on stderr. Returns EXIT_RUNTIME. */
int cmd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Build the configuration from defaults, the INI file (config_flag, else
 * CHATPAY_CONFIG), the environment, then db_flag. Prints and returns false
 * on error. */
bool cmd_config(struct config *c, const char *config_flag, const char *db_flag);

/* Open the database of c and apply pending migrations. A SQLite file that
 * is not there is refused ("no database at ...; run chatpay migrate"):
 * only serve, worker and migrate make one (cmd_create_db). Prints on error. */
struct db *cmd_open_db(const struct config *c);

/* The same, making a SQLite file (and its folder) that is not there. */
struct db *cmd_create_db(const struct config *c);

/* cmd_config, then cmd_open_db: NULL after printing what went wrong. */
struct db *cmd_config_open_db(struct config *c, const char *config_flag, const char *db_flag);

/* A name an operator gives (merchant, integrator, marketplace client,
 * product, vendor, network): 1 to DB_NAME_MAX bytes of UTF-8 text without
 * control characters (C0, DEL, C1) or line/paragraph separators, so that it fits its column whole
 * and every JSON answer that shows it stays valid. */
bool cmd_name_ok(const char *s);

/* Does the argument ask for help ("--help", "-h" or "help")? */
bool cmd_is_help(const char *arg);
#define CMD_NAME_RULE "1 to 255 bytes of UTF-8 text without control characters"

/* API keys: "cp_sandbox_" / "cp_live_" + 43 base62 characters (256 bits). */
#define API_KEY_MAX 64
bool admin_apikey_create(struct db *db, const char *merchant_id, enum db_environment env,
                         char key[API_KEY_MAX], struct db_api_key *out);

/* A new merchant, its first API key and its callback signing secret
 * (callback_secret[WEBHOOK_SECRET_LEN]), in one transaction. `currencies` is
 * a comma-separated list of ISO 4217 codes (first = default). Returns false
 * with a message in err. */
struct merchant_new {
    const char *name;
    enum db_environment environment;
    const char *currencies;
    bool sms_enabled;
    bool whatsapp_enabled;
};
bool admin_merchant_create(struct db *db, const struct merchant_new *in, struct db_merchant *out,
                           char key[API_KEY_MAX], struct db_api_key *key_out, char *callback_secret,
                           char *err, size_t errlen);

/* Parse and check a currency list; fills list/n. Returns false with err. */
bool admin_parse_currencies(const char *csv, struct db_currency *list, size_t *n, char *err,
                            size_t errlen);

struct json_object;

/* The callback URL options of `merchant update` and `integrator update`:
 * --payment-status-callback, --transaction-event-callback and
 * --settings-callback, each a URL or "none" (clears it). arg[kind] is NULL
 * when not given (kinds: db/callbacks.h). */
struct cmd_callbacks {
    const char *arg[4];
};
#define CMD_CALLBACK_OPTIONS                                                                       \
    "--payment-status-callback URL|none] [--transaction-event-callback URL|none]\n"                \
    "                               [--settings-callback URL|none"
/* The option name of a kind ("payment-status-callback", ...). */
const char *cmd_callback_option(int kind);
bool cmd_callbacks_given(const struct cmd_callbacks *c);
/* Check each URL given for a merchant in environment env: an absolute
 * http(s) URL of at most 2048 bytes whose host resolves, https only in
 * production, and never to a loopback, private or link-local address
 * outside the sandbox. Returns 0, or the exit code after the message. */
int cmd_callbacks_check(const struct cmd_callbacks *c, enum db_environment env, const char *usage);
/* Store the URLs given (inside a write transaction), for the merchant or
 * (app_id) one of its integrators. */
enum db_status cmd_callbacks_store(struct db_tx *tx, const char *merchant_id, const char *app_id,
                                   const struct cmd_callbacks *c);
/* Add the URLs of a merchant or integrator to o (paymentStatusCallback,
 * transactionEventCallback, settingsCallback; null when not set). */
void cmd_callbacks_json(struct json_object *o, const char *const urls[4]);

/* Print a JSON value (json-c object) pretty to stdout, then free it. */
void cmd_print_json(struct json_object *o);

/* The marketplace (marketplace.c): add a product to the catalogue (false
 * with a message in err), print the catalogue, replace the MNO prefixes. */
struct db_mp_product;
struct db_mp_mno;
bool cmd_marketplace_product_add(struct db *db, const struct db_mp_product *p, char *err,
                                 size_t errlen);
bool cmd_marketplace_product_print(struct db *db, bool json);
bool cmd_marketplace_mno_load(struct db *db, const struct db_mp_mno *rows, size_t n);

#endif
