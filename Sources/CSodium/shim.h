#ifndef MEMBERSYNC_CSODIUM_SHIM_H
#define MEMBERSYNC_CSODIUM_SHIM_H
#include <sodium.h>
#endif
