#!/bin/sh
# Test key provider that refuses, as a provider without the key does.
cat >/dev/null
echo "provider-fail: no key for this layer" >&2
exit 3
