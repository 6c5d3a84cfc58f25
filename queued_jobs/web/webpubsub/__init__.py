"""Azure Web PubSub: job changes published to one group per owner (and one for operators),
and ``GET /negotiate`` handing the signed-in user a client URL that joins their own group,
for deployments where browsers should not hold HTTP streams open to Functions::

    pubsub = WebPubSub.from_settings()      # QUEUED_JOBS_WEBPUBSUB_CONNECTION, _HUB
    add_webpubsub(app, pubsub)              # every host publishes (a feed consumer)
    api = create_web_app(app, auth=..., webpubsub=pubsub)   # serves /negotiate
"""

from .publisher import (
    CONNECTION_SETTING,
    HUB_SETTING,
    OPERATORS_GROUP,
    WebPubSub,
    add_webpubsub,
    owner_group,
)

__all__ = [
    "CONNECTION_SETTING",
    "HUB_SETTING",
    "OPERATORS_GROUP",
    "WebPubSub",
    "add_webpubsub",
    "owner_group",
]
