from django.urls import URLPattern, path

from sizhi.mailbox import views

app_name = "mailbox"
urlpatterns: list[URLPattern] = [
    path("", views.write, name="write"),
    path("track/", views.track, name="track"),
    path("mine/", views.my_letters, name="my_letters"),
    path("mine/<int:pk>/", views.my_letter, name="my_letter"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:pk>/", views.inbox_detail, name="inbox_detail"),
    path("inbox/<int:pk>/photos/<int:photo_id>/", views.inbox_photo, name="inbox_photo"),
    path("inbox/<int:pk>/reply/", views.reply, name="reply"),
    path("inbox/<int:pk>/delegate/", views.delegate, name="delegate"),
    path("inbox/<int:pk>/undelegate/", views.undelegate, name="undelegate"),
    path("inbox/<int:pk>/subject/", views.subject, name="subject"),
    path("inbox/<int:pk>/phone/", views.unmask_phone, name="unmask_phone"),
    path("inbox/<int:pk>/close/", views.close, name="close"),
    path("inbox/<int:pk>/convert/", views.convert, name="convert"),
]
