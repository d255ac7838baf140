#!/bin/sh
# Write the secret files docker compose mounts under /run/secrets (never in git or the image).
# Existing files are kept, so re-running never changes a password a database was initialised with.
# The folder is 0700 (only its owner on the host gets in); the files are 0644 because compose
# bind-mounts them as they are and the services run as non-root users inside their containers.
# Usage: deployments/docker/make-secrets.sh [DIR]   (default: deployments/docker/secrets)
set -eu
dir=${1:-$(cd "$(dirname "$0")" && pwd)/secrets}
umask 022
mkdir -p "$dir"
chmod 0700 "$dir"

random() {  # URL-safe, 32 bytes of entropy
  python3 -c 'import secrets; print(secrets.token_urlsafe(32))'
}

write() {  # write NAME CONTENT: only if absent
  if [ -s "$dir/$1" ]; then
    echo "kept    $dir/$1"
  else
    printf '%s\n' "$2" > "$dir/$1"
    echo "written $dir/$1"
  fi
}

write mysql_root_password "$(random)"
write mysql_password "$(random)"
write labelstudio_db_password "$(random)"
write labelstudio_token "$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
write labelstudio_admin_password "$(random)"

# Files derived from the ones above (re-derived every time, so they always agree).
mysql_password=$(cat "$dir/mysql_password")
printf 'mysql+pymysql://sgm:%s@mysql:3306/emr?charset=utf8mb4\n' "$mysql_password" > "$dir/emr_database_url"
{
  printf 'export POSTGRE_PASSWORD=%s\n' "$(cat "$dir/labelstudio_db_password")"
  printf 'export LABEL_STUDIO_USERNAME=%s\n' "${SGM_LABEL_STUDIO_ADMIN:-admin@sgm.local}"
  printf 'export LABEL_STUDIO_PASSWORD=%s\n' "$(cat "$dir/labelstudio_admin_password")"
  printf 'export LABEL_STUDIO_USER_TOKEN=%s\n' "$(cat "$dir/labelstudio_token")"
} > "$dir/labelstudio_env"
echo "written $dir/emr_database_url $dir/labelstudio_env"
