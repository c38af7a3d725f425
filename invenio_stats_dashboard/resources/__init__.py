"""The statistics REST API: resource, config, serializers (see ``views.py``)."""
