#!/bin/sh
# Test key provider that never answers.
exec sleep 30
