"""What the application's ORM says about its models, and fixes written from it.

``catalog`` is the data model (what capture learnt of the models, as JSON);
the capture side that reads a running app's models writes that JSON, the
analysis side resolves a repeated query to the relation that issued it and
writes the fix with the names the models really have.
"""
