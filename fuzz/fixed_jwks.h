/* fixed_jwks.h - generated once with node (see fuzz/README.md): public keys only (P-256
 * "ec-1", RSA-2048 "rsa-1"); the seeds in corpus/jwt are signed with
 * their private keys, which were thrown away. */
static const char fixed_jwks[] =
    "{\"keys\":[{\"kty\":\"EC\",\"x\":\"x0wFzxrGM_qUmXRkgkF4LcG5h"
    "8CJD80ATHX0MULptEI\",\"y\":\"5tsX_JsC9yVhDm5bm8YJolfADJxAhGU"
    "6-vvxxCu1yxU\",\"crv\":\"P-256\",\"kid\":\"ec-1\",\"use\":\""
    "sig\",\"alg\":\"ES256\"},{\"kty\":\"RSA\",\"n\":\"j3wl-q4a8L"
    "chqrnv0O77VsxKuJcmTeeaDwMPcd6E9oym0PWrIj6o1xIn7sR4klN6SnDKdx"
    "QZuhFqL4SNzSVG5L5AZysQKnMwSIy_-ODJ7-yBMB-ghw50Bcx9kvyT0Lzb3R"
    "ikWVfIgKinFo2iK_anP9DGJX3l8rBEqaHJBDiMFbuF6lAo9J1E2kLmpo0LC7"
    "kQ6vUp7hzlg1Jo84xa6OSf_f1nTjWF5RmInaLsrwdQmuY8Oc3H4HL_Z4baqO"
    "YLQwteyVPL4mVStFs3LjcMZm0KckGS7VPgK0QiUsE332NHcytTalakXzw6ex"
    "ZVGtI5mWEWCdAKorMajAk06GYGcDrIVQ\",\"e\":\"AQAB\",\"kid\":\""
    "rsa-1\",\"use\":\"sig\",\"alg\":\"RS256\"}]}";
