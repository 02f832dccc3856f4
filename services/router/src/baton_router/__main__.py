from __future__ import annotations

from baton_runtime import configure_logging, serve

from .app import SERVICE, create_app
from .settings import Settings


def main() -> None:
    configure_logging(SERVICE)
    settings = Settings()
    serve(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
