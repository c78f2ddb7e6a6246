"""Cryptography through vetted libraries only: HE backends (tenseal, phe, sf-heu), the PSI group
(ristretto255 via rbcl/libsodium), differential privacy noise and accounting, fingerprints."""
