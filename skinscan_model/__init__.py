"""The exported model's contract, shared by the trainer (which writes models) and the services.

Where model versions live and how they are checked (store), what each one
declares (metadata), and how an encoded image becomes its input
(preprocessing): one copy of each, so training and serving cannot drift apart.
"""
