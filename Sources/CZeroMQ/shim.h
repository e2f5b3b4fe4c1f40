#ifndef MEMBERSYNC_CZEROMQ_SHIM_H
#define MEMBERSYNC_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
