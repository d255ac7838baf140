#!/bin/sh
# Secrets arrive as files (compose secrets, Kubernetes secret volumes), never in the image or in
# `docker inspect`: for every NAME_FILE variable export NAME with the file's content, then run the command.
set -eu
for pair in $(env | grep -E '^[A-Z0-9_]+_FILE=' | cut -d= -f1); do
  name=${pair%_FILE}
  path=$(printenv "$pair")
  if [ ! -r "$path" ]; then
    echo "sgm-entrypoint: $pair points at $path, which is not readable" >&2
    exit 1
  fi
  value=$(cat "$path")
  export "$name=$value"
  unset "$pair"
done
exec "$@"
