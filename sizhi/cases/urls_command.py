from django.urls import path

from sizhi.cases import views_command as views

app_name = "command"
urlpatterns = [
    path("", views.ranking, name="ranking"),
    path("ranking.xlsx", views.ranking_xlsx, name="ranking_xlsx"),
    path("figures/<str:kind>/<int:pk>/<slug:metric>/", views.figure_cases, name="figure_cases"),
    path("summons/", views.summons, name="summons"),
    path("circular/", views.circular, name="circular"),
    path("circular.xlsx", views.circular_xlsx, name="circular_xlsx"),
    path("supervision/", views.supervision_list, name="supervision_list"),
    path("supervision/new/", views.supervision_new, name="supervision_new"),
    path("supervision/<int:pk>/respond/", views.supervision_answer, name="supervision_respond"),
]
