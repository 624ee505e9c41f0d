#include "agent/trust.h"

void trust_apply(CURL *h, const char *ca_file)
{
    const curl_version_info_data *v;

    if (ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
        return;
    }
    v = curl_version_info(CURLVERSION_NOW);
    if (v->capath && *v->capath)
        curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
}
