from django.urls import path

from sizhi.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("report/", views.report, name="report"),
    path("report/done/", views.report_done, name="report_done"),
    path("report/questions/", views.report_questions, name="report_questions"),
    path("report/similar/", views.similar, name="similar"),
    path("support/<int:pk>/", views.case_support, name="case_support"),
    path("me/reports/", views.my_reports, name="my_reports"),
    path("track/", views.track, name="track"),
    path("track/<str:tracking_code>/", views.case_track, name="case_track"),
    path("track/<str:tracking_code>/photos/<int:attachment_id>/", views.case_photo, name="case_photo"),
    path("track/<str:tracking_code>/rate/", views.case_rate, name="case_rate"),
    path("track/<str:tracking_code>/reopen/", views.case_reopen, name="case_reopen"),
    path("map/grids.geojson", views.grids_geojson, name="grids_geojson"),
]
