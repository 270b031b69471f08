from django.urls import path

from sizhi.insight import views

app_name = "insight"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("data.json", views.dashboard_data, name="data"),
    path("cases/", views.case_list, name="cases"),
    path("map/", views.map_page, name="map"),
    path("map/grids.geojson", views.map_grids, name="map_grids"),
    path("map/points.json", views.map_points, name="map_points"),
    path("screen/", views.screen, name="screen"),
]
