#!/bin/sh
# Test key provider that answers far too much.
cat >/dev/null
head -c 3000000 /dev/zero | tr '\0' 'A'
