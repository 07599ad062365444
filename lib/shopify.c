/* shopify.c - see shopify.h */
#include "shopify.h"
