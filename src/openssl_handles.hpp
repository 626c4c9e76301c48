#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

// Owners for the OpenSSL objects the TLS code holds: each freed by its own function.
namespace tcp_server {

template <typename T, void (*Free)(T*)>
struct OpensslFree {
  void operator()(T* object) const noexcept { Free(object); }
};

inline void free_bio(BIO* bio) {
  BIO_free_all(bio);
}

using BioHandle = std::unique_ptr<BIO, OpensslFree<BIO, free_bio>>;
using X509Handle = std::unique_ptr<X509, OpensslFree<X509, X509_free>>;
using KeyHandle = std::unique_ptr<EVP_PKEY, OpensslFree<EVP_PKEY, EVP_PKEY_free>>;
using BignumHandle = std::unique_ptr<BIGNUM, OpensslFree<BIGNUM, BN_free>>;
using SslHandle = std::unique_ptr<SSL, OpensslFree<SSL, SSL_free>>;
using SslContextHandle = std::unique_ptr<SSL_CTX, OpensslFree<SSL_CTX, SSL_CTX_free>>;

}  // namespace tcp_server
