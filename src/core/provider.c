/*
 * provider.c — provider settings (see provider.h).
 */
#include "core/provider.h"

const char *provider_setting(const struct provider_config *cfg, const char *name)
{
    json_object *v;
    if (!cfg->settings || !json_object_object_get_ex(cfg->settings, name, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return s && *s ? s : NULL;
}
