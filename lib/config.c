/* config.c - see config.h */
#include "config.h"
