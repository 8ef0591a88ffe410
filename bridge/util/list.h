/* SPDX-License-Identifier: MIT
 *
 * list.h - an intrusive doubly-linked list that knows its owner and count
 * (in the spirit of lws_dll2 and Redis adlist).
 *
 * Embed a struct sb_list_node in the element; the list never allocates.
 * A node knows the list it is on (node->owner), so removing it needs no
 * list argument and removing a node that is on no list is a no-op.
 * Header only, libc only.
 */
#ifndef SB_LIST_H
#define SB_LIST_H

#include <stddef.h>

struct sb_list;

struct sb_list_node {
	struct sb_list_node *prev, *next;
	struct sb_list *owner;   /* NULL while on no list */
};

struct sb_list {
	struct sb_list_node *head, *tail;
	size_t count;
};

/* The element that embeds `node` as `member`. */
#define sb_container_of(node, type, member) \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

/* Iterates so that the current node may be removed in the body. */
#define sb_list_foreach_safe(list, n, nx)                                   \
	for ((n) = (list)->head, (nx) = (n) ? (n)->next : NULL; (n);        \
	     (n) = (nx), (nx) = (n) ? (n)->next : NULL)

static inline void sb_list_add_tail(struct sb_list *l, struct sb_list_node *n)
{
	n->owner = l;
	n->next = NULL;
	n->prev = l->tail;
	if (l->tail)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
	l->count++;
}

static inline void sb_list_add_head(struct sb_list *l, struct sb_list_node *n)
{
	n->owner = l;
	n->prev = NULL;
	n->next = l->head;
	if (l->head)
		l->head->prev = n;
	else
		l->tail = n;
	l->head = n;
	l->count++;
}

/* Inserts n after `at` (which is on l). */
static inline void sb_list_add_after(struct sb_list *l, struct sb_list_node *at,
				     struct sb_list_node *n)
{
	if (at == l->tail) {
		sb_list_add_tail(l, n);
		return;
	}
	n->owner = l;
	n->prev = at;
	n->next = at->next;
	at->next->prev = n;
	at->next = n;
	l->count++;
}

/* Takes n off its list; a no-op when it is on none. */
static inline void sb_list_remove(struct sb_list_node *n)
{
	struct sb_list *l = n->owner;

	if (!l)
		return;
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	l->count--;
	n->prev = n->next = NULL;
	n->owner = NULL;
}

#endif
