"""The clinician's web app, served by the gateway at `/`.

Server-rendered pages (Jinja2) over the same domain services as the REST and
gRPC APIs, with a little dependency-free JavaScript for the image preview, the
progress state and the heat-map controls. One module per concern under
`pages/`; sessions and CSRF in `session`; headers in `headers`.
"""
