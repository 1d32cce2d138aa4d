#!/bin/sh
# Test key provider that wraps by not wrapping: the annotation is the options themselves.
# $1 (from ocicrypt.conf "args") is the provider name whose parameter must be in the request.
req=$(cat)
case "$req" in
*"\"Parameters\":{\"$1\":["*) ;;
*) echo "provider-echo: no parameters for $1" >&2; exit 4 ;;
esac
case "$req" in
*'"op":"keywrap"'*)
	v=$(printf '%s' "$req" | sed 's/.*"optsdata":"\([^"]*\)".*/\1/')
	printf '{"keywrapresults":{"annotation":"%s"}}' "$v" ;;
*'"op":"keyunwrap"'*)
	v=$(printf '%s' "$req" | sed 's/.*"annotation":"\([^"]*\)".*/\1/')
	printf '{"keyunwrapresults":{"optsdata":"%s"}}' "$v" ;;
*) echo "provider-echo: unknown op" >&2; exit 2 ;;
esac
