"""Resilience: timeouts, retries, fallback chains, caching and circuit breakers as SK filters.

The filters and their order live in :mod:`host.resilience.chain`; each policy is
a frozen object built from config by :mod:`host.resilience.policies`.
"""
