/* SPDX-License-Identifier: MIT */
/*
 * mmapkit._buffer: the buffer protocol for mmapkit.Map and mmapkit.compat.mmap on
 * every Python 3 (a class written in Python can only offer it from 3.12 on, PEP 688).
 *
 * One type, BufferExporter, the C base class of both.  Its bf_getbuffer asks the
 * object for a memoryview of the mapping (the Python method _export_buffer(), which
 * takes the handle's lock, refuses a closed mapping with ValueError and counts the
 * export), fills the consumer's Py_buffer from it, and keeps that memoryview's own
 * Py_buffer in view->internal until bf_releasebuffer.  So view->obj is the Map or
 * mmap object itself, as for the standard mmap, and while the consumer holds the
 * buffer the export stays counted: close() and resize() raise BufferError.  Once the
 * consumer releases it, the memoryview goes and the count drops at once.
 *
 * Nothing here touches the mapping or libmmapkit: the Python side stays the single
 * owner of the handle, its lock and its export count.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static int
exporter_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
	PyObject *mv;
	Py_buffer *inner;

	view->obj = NULL;
	mv = PyObject_CallMethod(self, "_export_buffer", NULL);
	if (mv == NULL)
		return -1;
	if (!PyMemoryView_Check(mv)) {
		PyErr_Format(PyExc_TypeError, "_export_buffer() returned %.100s, not a memoryview",
			     Py_TYPE(mv)->tp_name);
		Py_DECREF(mv);
		return -1;
	}
	inner = PyMem_Malloc(sizeof(*inner));
	if (inner == NULL) {
		Py_DECREF(mv);
		PyErr_NoMemory();
		return -1;
	}
	/* The memoryview checks flags (a writable request on a read-only map is a
	 * BufferError) and holds the mapping's export while inner is not released. */
	if (PyObject_GetBuffer(mv, inner, flags) < 0) {
		PyMem_Free(inner);
		Py_DECREF(mv);
		return -1;
	}
	Py_DECREF(mv); /* inner->obj holds it now */
	*view = *inner;
	Py_INCREF(self);
	view->obj = self;
	view->internal = inner;
	return 0;
}

static void
exporter_releasebuffer(PyObject *self, Py_buffer *view)
{
	Py_buffer *inner = view->internal;

	(void)self;
	if (inner == NULL)
		return;
	view->internal = NULL;
	PyBuffer_Release(inner); /* the memoryview goes: the export is no longer counted */
	PyMem_Free(inner);
}

static PyBufferProcs exporter_as_buffer = {
	.bf_getbuffer = exporter_getbuffer,
	.bf_releasebuffer = exporter_releasebuffer,
};

PyDoc_STRVAR(exporter_doc,
"Base class giving a subclass the buffer protocol: memoryview(obj) and every C\n"
"consumer (hashlib, re, bytes(), file.write(), numpy.frombuffer) get the memoryview\n"
"that obj._export_buffer() returns, with obj as the exporter; the export lasts until\n"
"the consumer releases the buffer.");

static PyTypeObject BufferExporter_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "mmapkit._buffer.BufferExporter",
	.tp_basicsize = sizeof(PyObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = exporter_doc,
	.tp_as_buffer = &exporter_as_buffer,
	.tp_new = PyType_GenericNew,
};

PyDoc_STRVAR(module_doc,
"The buffer protocol for mmapkit.Map and mmapkit.compat.mmap on every Python 3.");

static struct PyModuleDef buffer_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "mmapkit._buffer",
	.m_doc = module_doc,
	.m_size = -1,
};

PyMODINIT_FUNC PyInit__buffer(void);

PyMODINIT_FUNC
PyInit__buffer(void)
{
	PyObject *m;

	if (PyType_Ready(&BufferExporter_Type) < 0)
		return NULL;
	m = PyModule_Create(&buffer_module);
	if (m == NULL)
		return NULL;
	Py_INCREF(&BufferExporter_Type);
	if (PyModule_AddObject(m, "BufferExporter", (PyObject *)&BufferExporter_Type) < 0) {
		Py_DECREF(&BufferExporter_Type);
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
