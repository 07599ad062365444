/* log.c - see log.h */
#include "log.h"
