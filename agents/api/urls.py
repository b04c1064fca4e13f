from rest_framework.routers import SimpleRouter

from agents.api.views import AgentViewSet

router = SimpleRouter(trailing_slash=False)
router.register("agents", AgentViewSet, basename="api-agent")

urlpatterns = router.urls
