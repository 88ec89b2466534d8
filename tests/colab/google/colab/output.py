"""Stand-in for `google.colab.output`: records that the set-up cell turned on Colab's widget manager."""

custom_widget_manager_enabled = False


def enable_custom_widget_manager():
    """In Colab: let third-party widgets (anywidget) render. Here: remember that it was asked for."""
    global custom_widget_manager_enabled
    custom_widget_manager_enabled = True


def disable_custom_widget_manager():
    """In Colab: back to Colab's own widget manager."""
    global custom_widget_manager_enabled
    custom_widget_manager_enabled = False
