/* TLS for the binlog server (docs/tls.md, "Replication from geodr's binlog
 * server"): a key pair and a self-signed certificate made in memory when the
 * server starts, never written to this machine's disk.  The target pins the
 * certificate: it gets the PEM as its MASTER_SSL_CA and checks it with
 * MASTER_SSL_VERIFY_SERVER_CERT, so only this process can serve it. */
#ifndef GD_REPLAY_SERVER_TLS_H
#define GD_REPLAY_SERVER_TLS_H

#include <openssl/ssl.h>

#include "common/error.h"

/* A server context holding a new P-256 key and a certificate for the IPv4
 * address ip (subject alternative name IP:ip, CA:TRUE so that it is its own
 * trust anchor, valid from an hour ago for 30 days).  *pem (the certificate,
 * PEM) is the caller's to free; *ctx to SSL_CTX_free.  TLS 1.2 or newer. */
int gd_replay_tls_new(const char *ip, SSL_CTX **ctx, char **pem, gd_err *err);

#endif
