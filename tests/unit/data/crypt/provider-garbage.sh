#!/bin/sh
# Test key provider that answers something that is not the protocol's JSON.
cat >/dev/null
echo 'this is not JSON'
