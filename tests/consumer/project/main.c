/* main.c - a consumer of libairlift: includes every public header, calls the library. */
#include <stdio.h>
#include <string.h>

#include "airlift/agent.h"
#include "airlift/delta.h"
#include "airlift/error.h"
#include "airlift/image.h"
#include "airlift/install.h"
#include "airlift/layout.h"
#include "airlift/port.h"
#include "airlift/proto.h"
#include "airlift/version.h"
#include "airlift/wire.h"

int main(void)
{
    struct al_version a, b;
    char text[64];
    if (al_version_parse("1.2.3", 5, &a) != AL_OK || al_version_parse("1.10.0", 6, &b) != AL_OK)
        return 1;
    al_version_format(&b, text, sizeof text);
    printf("consumer: %s > 1.2.3: %s; AL_ERR_BAD_LAYOUT: %s\n", text,
           al_version_compare(&b, &a) > 0 ? "yes" : "no", al_err_name(AL_ERR_BAD_LAYOUT));
    return al_version_compare(&b, &a) > 0 ? 0 : 1;
}
