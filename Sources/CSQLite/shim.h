#ifndef MEMBERSYNC_CSQLITE_SHIM_H
#define MEMBERSYNC_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
