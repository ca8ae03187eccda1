"""The read-only dashboard, Atom feeds and JSON API.

``create_app(get_settings, store, health)`` returns a Starlette app; serve it with uvicorn::

    app = create_app(lambda: current_settings, store, health=service_health)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.web.host, port=settings.web.port,
                                           log_level="warning", lifespan="off"))
    await server.serve()
"""

from monitor.app.web.app import create_app

__all__ = ["create_app"]
