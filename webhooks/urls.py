from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("", views.webhook_settings, name="settings"),
    path("<int:pk>/", views.endpoint_detail, name="endpoint"),
    path("<int:pk>/deliveries/<int:delivery_pk>/resend/", views.resend, name="resend"),
]
