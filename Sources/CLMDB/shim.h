#ifndef ALMANAC_CLMDB_SHIM_H
#define ALMANAC_CLMDB_SHIM_H
#include <lmdb.h>
#endif
