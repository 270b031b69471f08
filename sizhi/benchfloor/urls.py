from django.urls import path

from sizhi.benchfloor import views

app_name = "benchfloor"
urlpatterns = [path("reports", views.floor_report, name="reports")]
