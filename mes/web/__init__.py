"""LineBrain's web pages (server-rendered, Jinja2 templates in ``templates/``)."""
