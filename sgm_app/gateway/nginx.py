"""nginx in front of Label Studio: the configuration we render and the foreground process we run."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from sgm_app import nginx


@dataclass(frozen=True)
class GatewayLayout:
    """Where the gateway listens, whom it asks and whom it fronts, and its own folder under the data folder."""

    home: Path  # <data folder>/gateway
    port: int
    auth_port: int
    label_studio_port: int

    @property
    def conf(self) -> Path:
        return self.home / "nginx.conf"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# Headers every proxied location sends; repeated because a location that sets any header inherits none.
_PROXY_HEADERS = """
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;"""

_GUARD = """
      auth_request /_gateway/auth;
      auth_request_set $sgm_reason $upstream_http_x_sgm_reason;"""

TEMPLATE = """# Rendered by `sgm gateway serve`; edits are overwritten.
worker_processes 1;
daemon off;
master_process on;
pid {home}/run/nginx.pid;
error_log {home}/logs/error.log warn;
events {{ worker_connections 512; }}
http {{
  access_log {home}/logs/access.log;
  {temp_paths}
  client_max_body_size 50m;
  proxy_read_timeout 300s;
  server_tokens off;
  upstream labelstudio {{ server 127.0.0.1:{ls_port}; keepalive 16; }}
  upstream sgm_access {{ server 127.0.0.1:{auth_port}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{port};
    # A refusal by the access endpoint becomes our page, with the endpoint's reason.
    error_page 403 = /_gateway/denied;
    location = /_gateway/auth {{
      internal;
      proxy_pass http://sgm_access/_gateway/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;{headers}
    }}
    location = /_gateway/denied {{
      internal;
      proxy_method GET;
      proxy_pass_request_body off;
      proxy_pass http://sgm_access/_gateway/denied;
      proxy_set_header Content-Length "";
      proxy_set_header X-Sgm-Reason $sgm_reason;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;{headers}
    }}
    location = /_gateway/health {{
      proxy_pass http://sgm_access;{headers}
    }}
    location = /_gateway/ui.css {{
      proxy_pass http://sgm_access;{headers}
    }}
    location ^~ /_gateway/ {{ return 404; }}
    # Assets need no decision (Label Studio serves them to anyone).
    location ~ ^/(static|react-app|label-studio-frontend|dm)/ {{
      proxy_pass http://labelstudio;{headers}
    }}
    # Submissions are validated, the project list is cut down to the reader's, tasks lose the predictions the
    # reader's scheme hides, and the labeling stream's next task is audited, by our endpoint.
    location ~ ^/api/(projects|projects/\\d+/next|tasks|tasks/\\d+|tasks/\\d+/annotations|annotations/\\d+)/?$ {{{guard}
      proxy_pass http://sgm_access/_gateway/forward$request_uri;{headers}
    }}
    location / {{{guard}
      proxy_pass http://labelstudio;{headers}
      proxy_set_header Accept-Encoding "";
      sub_filter_once on;
      sub_filter '</head>' '<link rel="stylesheet" href="/_gateway/ui.css"></head>';
    }}
  }}
}}
"""


def render(layout: GatewayLayout) -> str:
    return TEMPLATE.format(
        home=layout.home,
        temp_paths=nginx.temp_paths(layout.home),
        ls_port=layout.label_studio_port,
        auth_port=layout.auth_port,
        port=layout.port,
        headers=_PROXY_HEADERS,
        guard=_GUARD,
    )


def write_config(layout: GatewayLayout) -> Path:
    """Render the configuration and create nginx's folders; checks it with `nginx -t`."""
    return nginx.write_config(layout.home, layout.conf, render(layout))


def start_nginx(layout: GatewayLayout) -> subprocess.Popen[bytes]:
    """nginx in front of Label Studio as our foreground child; stop it with terminate()."""
    return nginx.start_nginx(layout.home, write_config(layout))
